"""The OpenAI Agents SDK (its default Responses model) runs a tool loop through the gateway."""

from __future__ import annotations

import json

import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from .conftest import MASTER


@pytest.fixture()
def gw(start_gateway, fake):
    return start_gateway({"model_list": [
        {"model_name": "gemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "vertex_location": "us-central1"}},
        {"model_name": "claude", "litellm_params": {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "vertex_location": "us-east5"}},
    ]})


@pytest.mark.parametrize("model", ["gemini", "claude"])
def test_agent_runs_a_function_tool_loop(gw, fake, model):
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return f"12 degrees and rain in {city}"

    agent = Agent(name="Assistant", instructions="Answer with the weather tool.", tools=[get_weather], model=model)
    client = AsyncOpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True), tracing_disabled=True)
    result = Runner.run_sync(agent, "What's the weather in Oslo?", run_config=config)

    assert len(calls) == 1 and isinstance(calls[0], str)
    assert "12 degrees and rain" in result.final_output
    upstream = fake.calls(":rawPredict" if model == "claude" else ":generateContent")
    assert len(upstream) == 2  # the call to the tool, then the answer from its result
    if model == "gemini":
        last = upstream[-1].json["contents"]
        assert last[-1]["parts"][0]["functionResponse"]["name"] == "get_weather"
        assert json.dumps(last[-1]["parts"][0]["functionResponse"]["response"]).find("12 degrees") > 0


def test_agent_streamed_run(gw, fake):
    import asyncio

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    async def main() -> tuple[str, list[str]]:
        agent = Agent(name="Assistant", instructions="Use the tool.", tools=[get_weather], model="gemini")
        client = AsyncOpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
        config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True), tracing_disabled=True)
        result = Runner.run_streamed(agent, "weather in Lima please", run_config=config)
        kinds = [event.type async for event in result.stream_events()]
        return result.final_output, kinds

    output, kinds = asyncio.run(main())
    assert "sunny in" in output
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert len(fake.calls(":streamGenerateContent")) == 2
