"""The DXナビ HTTP API (FastAPI): chat with SSE streaming, clause search, catalogs, feedback, and an
OpenAI-compatible chat endpoint. `create_app(settings)` builds it; the advisor loads once, in the lifespan.

- `app`: the factory (settings, state, middleware, error handlers, routers) and the lifespan
- `routers/`: one router per area: `health`, `chat`, `documents` (search and lists), `feedback`,
  `openai_compat` (models, chat completions); routes stay thin, the work is in `bot/`
- `schemas`: request/response models and OpenAPI examples; `completions`: OpenAI's shapes
- `deps`: API key, rate limit and the advisor as dependencies; `state`: what the app holds
- `middleware`: body limit and Japanese 500s; `errors`: Japanese error bodies; `streaming`: SSE
"""

from bot.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
