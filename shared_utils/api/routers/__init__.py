"""One Powertools `Router` per resource; handler modules include the ones they serve."""
