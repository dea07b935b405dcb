"""One router per area of the API; `bot.api.app` mounts them."""
