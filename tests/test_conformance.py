"""Every answer of this test run that the recording SDK clients saw fits OpenAI's schemas.

Runs last (see conftest.py): by then the SDK clients have recorded every answer they received.
"""

from tests.conformance import violations

KINDS = ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "CreateCompletionResponse",
         "ListModelsResponse", "Model", "ErrorResponse", "CreateEmbeddingResponse", "CreateModerationResponse",
         "OpenAIFile", "ListFilesResponse", "DeleteFileResponse", "Upload", "UploadPart",
         "CreateTranscriptionResponseJson", "CreateTranscriptionResponseVerboseJson",
         "CreateTranscriptionResponseStreamEvent", "CreateTranslationResponseJson",
         "CreateTranslationResponseVerboseJson", "CreateSpeechResponseStreamEvent", "ImagesResponse",
         "ImageGenStreamEvent", "Batch", "ListBatchesResponse", "FineTuningJob", "ListPaginatedFineTuningJobsResponse",
         "ListFineTuningJobEventsResponse", "ListFineTuningJobCheckpointsResponse", "ChatCompletionList",
         "ChatCompletionDeleted", "DeleteModelResponse", "ListFineTuningCheckpointPermissionResponse",
         "DeleteFineTuningCheckpointPermissionResponse", "Response", "ResponseStreamEvent", "ResponseItemList",
         "ConversationResource", "DeletedConversationResource", "ConversationItemList", "ConversationItem",
         "TokenCountsResource", "CompactResource"]


def test_every_answer_fits_openai_schema(conformance, client):
    client.models.list()  # the recorder sees at least one answer even when this test runs alone
    assert not conformance.failures, "\n".join(sorted(set(conformance.failures))[:40])


def test_all_kinds_were_checked(conformance, request):
    if request.config.option.keyword or request.config.args not in ([], ["tests"]):
        return  # a partial run checks what it ran
    missing = [kind for kind in KINDS if conformance.checked[kind] == 0]
    assert not missing, f"no answer of these kinds was checked: {missing}"


def test_the_checker_rejects_drift():
    good = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    assert violations("CreateChatCompletionStreamResponse", good) == []
    assert violations("CreateChatCompletionStreamResponse", {**good, "object": "chat.completion"})
    assert violations("CreateChatCompletionStreamResponse", {**good, "choices": [{"index": 0, "delta": {}}]})
    assert violations("ErrorResponse", {"error": {"message": "m", "type": "t"}})
