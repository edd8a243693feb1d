"""Order execution: planning, the order ledger, exactly-once placement, exits, kill switch, history."""
