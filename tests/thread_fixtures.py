"""BLAS thread counts as threadpoolctl reports them, shared by the thread-policy tests."""


def blas_threads() -> set:
    """The thread counts of the loaded BLAS libraries."""
    from threadpoolctl import threadpool_info

    return {d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}


def can_run_two_blas_threads() -> bool:
    """Whether the BLAS here accepts a limit of 2 (the policy tests need a setting other than 1)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        return blas_threads() == {2}
