"""Notifications: the platform's own stored events (fills, rejections, partial runs, risk exits,
kill switches, logins needed) sent to each user's channels (Telegram, e-mail; the console's live
feed already shows them), off the trading path.

- `events`: a stream record of the history or broker-accounts table -> the events it carries,
  read through the live feed's translation (`feed.translate`), each with a stable id.
- `notifier`: events -> one `Delivery` per (event, channel) the user wants, on the notification
  queue (the user's preferences read in batches, once per invocation).
- `sender`: one delivery, sent at most once in the normal case (a conditional delivery mark in
  the idempotency table), retried with back-off on an outage, recorded on the settings as the
  channel's error when the channel refuses it for good (docs/notifications.md).
"""
