"""The day's broker sessions around the timer: the starter logs every account in that can log
itself in (after the timer is started and the masters are in, before the first entry), and an
after-close schedule invokes it again with `END_OF_DAY_ACTION` to log every session out."""

from __future__ import annotations

END_OF_DAY_ACTION = "end_of_day"
# Accounts that could not trade after the morning (no session, refused self-login): their
# strategies' orders are refused ("broker login needed"); a failed self-login is alarmed.
LOGINS_NEEDED_METRIC = "BrokerLoginsNeeded"
LOGIN_FAILED_METRIC = "BrokerLoginsFailed"
LOGOUT_FAILED_METRIC = "BrokerLogoutsFailed"
