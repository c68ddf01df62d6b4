"""A first call, a stream and a tool call through vertex-engine.

Offline, against the bundled fake Google server:

    vertex-engine emulate -- python examples/quickstart.py

Against real Google: set GOOGLE_APPLICATION_CREDENTIALS (or run `gcloud auth application-default
login`) and VERTEXAI_PROJECT, then `python examples/quickstart.py`.
"""

import engine

messages = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]

# 1. Gemini on Vertex AI (project and location from VERTEXAI_PROJECT / VERTEXAI_LOCATION or the credentials).
response = engine.completion(model="vertex_ai/gemini-2.5-flash", messages=messages, temperature=0.2)
print("answer:", response.choices[0].message.content)
print("usage:", dict(response.usage), "cost (USD):", response._hidden_params["response_cost"])

# 2. The same translation served by Google AI Studio (GEMINI_API_KEY).
response = engine.completion(model="gemini/gemini-2.5-flash", messages=messages)
print("AI Studio answer:", response.choices[0].message.content)

# 3. Streaming.
print("stream:", end=" ")
for chunk in engine.completion(model="vertex_ai/gemini-2.5-flash", messages=messages, stream=True):
    print(chunk.choices[0].delta.content or "", end="", flush=True)
print()

# 4. Function calling.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string", "description": "City and state"}},
                "required": ["location"],
            },
        },
    }
]
response = engine.completion(
    model="vertex_ai/gemini-2.5-flash",
    messages=[{"role": "user", "content": "What's the weather in Boston?"}],
    tools=tools,
    tool_choice="required",
)
call = response.choices[0].message.tool_calls[0]
print("tool call:", call.function.name, call.function.arguments)
