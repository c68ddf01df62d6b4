"""engine.embedding / aembedding with token-id input: Google receives the text the ids encode."""

from __future__ import annotations

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.embeddings import embed_vector

from tests.unit.test_token_input import ANOTHER_ITEM, GOOD_MORNING, LANDMARK, LANDMARK_IDS

pytestmark = pytest.mark.anyio


def test_token_ids_of_a_gcs_uri_reach_multimodal_embedding_as_an_image(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/multimodalembedding@001", input=LANDMARK_IDS)
    assert fake.last(":predict").json == {"instances": [{"image": {"gcsUri": LANDMARK}}]}
    assert response.data[0].embedding == embed_vector(LANDMARK, 1408)
    assert response.usage.prompt_tokens_details.image_count == 1


async def test_lists_of_token_ids_are_texts_in_order(fake: FakeGoogle) -> None:
    response = await engine.aembedding(model="vertex_ai/text-embedding-004", input=[GOOD_MORNING, ANOTHER_ITEM])
    sent = fake.last(":predict").json["instances"]
    assert [i["content"] for i in sent] == ["good morning", "another item"]
    assert [d.index for d in response.data] == [0, 1]


def test_a_bad_token_id_is_refused_before_any_call(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.embedding(model="vertex_ai/text-embedding-004", input=[[15339], [1917, 999_999_999]])
    assert "input[1][1]" in err.value.message and "cl100k_base" in err.value.message
    assert fake.calls(":predict") == []
