"""Game theory: normal-form games, Gambit files, logit QRE, Nash, Stackelberg (Bayesian, security
games), minimax winners, Markov games and QARL curricula, S-CNE, GTAlign.

Each family is a module with one function per method (``games.qre.logit_solve``,
``games.nash.lemke_howson``, ``games.stackelberg.solve``, ...).
"""

from games import causal, efg, gtalign, markov, nash, qarl, qre, security, stackelberg
from games.causal import SequentialCausalGame
from games.efg import ExtensiveFormGame, TreeBuilder
from games.efg_io import read_efg, write_efg
from games.gtalign import PayoffMatrix
from games.markov import ZeroSumMarkovGame
from games.minimax import MinimaxWinnerResult, minimax_winner
from games.nfg import from_pygambit, read_nfg, to_pygambit, write_nfg
from games.normal_form import NormalFormGame, random_game
from games.security import SecurityGame

__all__ = [
    "NormalFormGame", "random_game", "read_nfg", "write_nfg", "to_pygambit", "from_pygambit",
    "minimax_winner", "MinimaxWinnerResult", "SecurityGame", "ZeroSumMarkovGame", "SequentialCausalGame",
    "PayoffMatrix", "ExtensiveFormGame", "TreeBuilder", "read_efg", "write_efg", "efg", "qre", "nash", "stackelberg", "security", "markov", "qarl", "causal", "gtalign",
]
