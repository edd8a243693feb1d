"""The master timer: 0-second boundaries, the phase -> events table, the event envelope, the
EventBridge publisher, and the domain of the four timer-event handlers."""
