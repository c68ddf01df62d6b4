"""POST /utils/token_counter (LiteLLM's shape) through the gateway."""

from __future__ import annotations

CONFIG = {"model_list": [
    {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "count-project"}},
    {"model_name": "claude", "litellm_params": {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "vertex_location": "us-east5"}},
]}
MESSAGES = [{"role": "user", "content": "How many tokens is this prompt?"}]


def test_token_counter_names_the_request_and_the_deployment_model(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as c:
        gemini = c.post("/utils/token_counter", json={"model": "gemini-flash", "messages": MESSAGES})
        claude = c.post("/utils/token_counter", json={"model": "claude", "prompt": "hello there"})
        chat = c.post("/v1/chat/completions", json={"model": "gemini-flash", "messages": MESSAGES}).json()
    assert gemini.status_code == 200, gemini.text
    assert gemini.json() == {"total_tokens": chat["usage"]["prompt_tokens"], "request_model": "gemini-flash",
                             "model_used": "gemini-2.5-flash", "tokenizer_type": "gemini_count_tokens_api"}
    assert fake.calls(":countTokens")[0].path.startswith("/v1/projects/count-project/")
    assert claude.json()["model_used"] == "claude-sonnet-4@20250514" and claude.json()["total_tokens"] > 0
    assert fake.last("count-tokens").json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]


def test_token_counter_keys_and_errors(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["claude"]}).json()["key"]
    with gw.client(key) as c:
        refused = c.post("/utils/token_counter", json={"model": "gemini-flash", "messages": MESSAGES})
        allowed = c.post("/utils/token_counter", json={"model": "claude", "messages": MESSAGES})
        empty = c.post("/utils/token_counter", json={"model": "claude"})
    with gw.client(None) as anonymous:
        unauthenticated = anonymous.post("/utils/token_counter", json={"model": "claude", "messages": MESSAGES})
    assert refused.status_code == 403 and allowed.status_code == 200
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"
    assert unauthenticated.status_code == 401
    assert fake.calls(":countTokens") == []
