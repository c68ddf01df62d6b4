"""Default ``:predict`` answers of legacy PaLM 2 models and custom Model Garden containers.

* PaLM chat (``chat-bison*``, ``codechat-bison*``): ``instances[0].messages`` (``author`` /
  ``content``) -> ``predictions[0].candidates[0]``; text and code models (``text-bison*``,
  ``code-bison*``, ``code-gecko*``) take ``prompt`` or ``prefix`` (+ ``suffix``) ->
  ``predictions[i].content``; token counts in ``metadata.tokenMetadata``.
* A Model Garden container on ``endpoints/{id}:predict`` takes ``{"prompt": ...}`` instances and
  answers one string per instance, echoing the prompt before ``Output:`` as Llama containers do.

Both register with :func:`engine.emulator.predict.register` on import.
"""

from __future__ import annotations

from typing import Any

from .call import ModelCall
from .predict import instances_have, register
from .reply import Reply

__all__ = ["PALM_PREFIXES", "palm_predict", "container_predict"]

PALM_PREFIXES = ("chat-bison", "codechat-bison", "text-bison", "text-unicorn", "code-bison", "code-gecko")
_SAFETY = {"blocked": False, "categories": [], "scores": []}


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _token_metadata(prompt: int, output: int) -> dict[str, Any]:
    return {"tokenMetadata": {
        "inputTokenCount": {"totalTokens": prompt, "totalBillableCharacters": prompt * 4},
        "outputTokenCount": {"totalTokens": output, "totalBillableCharacters": output * 4},
    }}


def _chat(call: ModelCall, instance: dict[str, Any]) -> Reply:
    messages = instance.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and "content" in m for m in messages):
        return Reply.error(400, "instances[0].messages: expected a non-empty list of {author, content}")
    last = str(messages[-1]["content"])
    text = f"Hello from the vertex-engine emulator, answering as {call.route.target}. You said: {last}"
    prompt = sum(_words(str(m["content"])) for m in messages) + (_words(instance["context"]) if instance.get("context") else 0)
    return Reply(body={
        "predictions": [{"candidates": [{"author": "1", "content": text}], "safetyAttributes": [_SAFETY],
                         "citationMetadata": [{"citations": []}]}],
        "metadata": _token_metadata(prompt, _words(text)),
    })


def _text(call: ModelCall, instances: list[Any]) -> Reply:
    predictions, prompt, output = [], 0, 0
    for i, instance in enumerate(instances):
        source = instance.get("prompt", instance.get("prefix")) if isinstance(instance, dict) else None
        if not isinstance(source, str):
            return Reply.error(400, f"instances[{i}]: expected a prompt (text models) or a prefix (code models)")
        if call.route.target.startswith("code-"):
            text = "    return a + b\n" if instance.get("suffix") is not None else "def add(a, b):\n    return a + b\n"
        else:
            text = f"Hello from the vertex-engine emulator, answering as {call.route.target}. You said: {source}"
        predictions.append({"content": text, "safetyAttributes": _SAFETY, "citationMetadata": {"citations": []}})
        prompt += _words(source + str(instance.get("suffix") or ""))
        output += _words(text)
    return Reply(body={"predictions": predictions, "metadata": _token_metadata(prompt, output)})


def palm_predict(call: ModelCall) -> Reply:
    """``publishers/google/models/{chat,text,code}-bison*|code-gecko*:predict``."""
    instances = call.body.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        return Reply.error(400, "instances: expected a non-empty list of objects")
    parameters = call.body.get("parameters") or {}
    if "maxOutputTokens" in parameters and not isinstance(parameters["maxOutputTokens"], int):
        return Reply.error(400, "parameters.maxOutputTokens: expected an integer")
    if call.route.target.startswith(("chat-bison", "codechat-bison")):
        return _chat(call, instances[0])
    return _text(call, instances)


def container_predict(call: ModelCall) -> Reply:
    """``endpoints/{id}:predict`` of a prompt-in, text-out container (vLLM / TGI style)."""
    predictions = [f"Prompt:\n{instance['prompt']}\nOutput:\nHello from endpoint {call.route.target}."
                   for instance in call.body["instances"]]
    return Reply(body={"predictions": predictions, "deployedModelId": "1234567890", "model": f"projects/p/models/{call.route.target}"})


register("palm", lambda call: call.route.model is not None and call.route.model.startswith(PALM_PREFIXES), palm_predict)
register("model garden container", lambda call: call.route.endpoint is not None and instances_have("prompt")(call),
         container_predict)
