"""Game theory: normal-form games, logit QRE, Nash, Stackelberg, minimax winners, Gambit files."""

from games.normal_form import NormalFormGame, random_game

__all__ = ["NormalFormGame", "random_game"]
