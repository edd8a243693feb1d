"""Backtests: strategies replayed over past trading days, their results and their report."""
