"""Signal webhooks: a user's endpoints for chart alerts (TradingView, Chartink), each bound to one
strategy and one action. The management routes keep them (`service`), the public endpoint turns a
request into a signal for the execution side's dispatcher (`receiver`); docs/signals.md."""
