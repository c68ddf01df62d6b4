"""Embedding input as token ids: decoded with the client's tiktoken vocabulary, offline."""

from __future__ import annotations

import pytest

from engine.errors import BadRequestError
from engine.runtime.token_input import decode_token_input, encoding_for_model, is_token_input

# Real cl100k_base ids (as tiktoken encodes them) of the seeds' inputs.
LANDMARK = "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"
LANDMARK_IDS = [5981, 1129, 12641, 1355, 4112, 14271, 14, 12356, 12, 2192, 14, 657, 76, 78051, 13044, 14, 1974, 4075, 16, 3592]
GOOD_MORNING, ANOTHER_ITEM = [19045, 6693], [43063, 1537]


def test_one_token_array_is_one_string() -> None:
    assert decode_token_input(LANDMARK_IDS, "multimodalembedding@001") == LANDMARK
    assert decode_token_input([15339, 1917], "text-embedding-3-small") == "hello world"


def test_a_list_of_token_arrays_is_a_list_of_strings() -> None:
    assert decode_token_input([GOOD_MORNING, ANOTHER_ITEM], "text-embedding") == ["good morning", "another item"]


def test_o200k_for_the_models_tiktoken_maps_to_it() -> None:
    assert encoding_for_model("gpt-4o") == encoding_for_model("openai/gpt-4.1-mini") == "o200k_base"
    assert encoding_for_model("o3") == encoding_for_model("gpt-5") == "o200k_base"
    assert encoding_for_model("multimodalembedding@001") == encoding_for_model("text-embedding-3-large") == "cl100k_base"
    assert encoding_for_model("ollama") == "cl100k_base"  # an "o" name that is not o1/o3/o4
    # o200k ids of "good morning" differ from cl100k's: the vocabulary follows the model name.
    assert decode_token_input([30744, 8709], "gpt-4o") == "good morning"
    assert decode_token_input([30744, 8709], "text-embedding") != "good morning"


def test_text_and_string_lists_are_untouched() -> None:
    for value in ("hi", ["a", "b"], [], None, {"text": "x"}):
        assert decode_token_input(value, "m") is value
    assert not is_token_input(["a", 1]) and is_token_input([[1], [2]]) and is_token_input([3])


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([15339, 10**9], "input[1]"),
        ([15339, -1], "input[1]"),
        ([15339, "x"], "input[1]"),
        ([15339, True], "input[1]"),
        ([[15339], [1917, 2.5]], "input[1][1]"),
        ([[15339], "world"], "input[1]"),
        ([[15339], []], "input[1]"),
    ],
)
def test_bad_ids_name_the_element(value, field) -> None:
    with pytest.raises(BadRequestError) as err:
        decode_token_input(value, "text-embedding")
    assert err.value.message.startswith(field + ":") and err.value.param == "input"

