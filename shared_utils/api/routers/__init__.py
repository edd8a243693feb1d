"""One Powertools `Router` per handler module (imported individually: cold starts stay small)."""
