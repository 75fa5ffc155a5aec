"""LangChain's standard integration tests (langchain-tests) for chat models and embeddings, run with
the official langchain-openai classes against the stack. tests/test_clients.py runs this file and
lists which tests are expected not to apply, and why."""

from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from langchain_tests.integration_tests import ChatModelIntegrationTests, EmbeddingsIntegrationTests

from conftest import API_KEY, BASE_URL, CHAT_MODEL, EMBEDDING_MODEL, TIMEOUT


class TestVivianChatOpenAI(ChatModelIntegrationTests):
    @property
    def chat_model_class(self):
        return ChatOpenAI

    @property
    def chat_model_params(self):
        # temperature 0: the small local model's choices (whether to call a tool under tool_choice
        # auto) are the same on every run.
        return {"model": CHAT_MODEL, "base_url": BASE_URL, "api_key": API_KEY, "timeout": TIMEOUT,
                "max_retries": 0, "stream_usage": True, "temperature": 0}

    @property
    def model_override_value(self):
        # The model's own id: `gpt-4` is its alias, so the answer names the id asked for.
        return "qwen2.5-coder-0.5b-instruct"

    @property
    def supports_image_inputs(self):
        return False  # the local models are text-only

    @property
    def supports_image_urls(self):
        return False

    @property
    def supports_json_mode(self):
        return True

    @property
    def has_structured_output(self):
        return True

    @property
    def returns_usage_metadata(self):
        return True


class TestVivianOpenAIEmbeddings(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return OpenAIEmbeddings

    @property
    def embedding_model_params(self):
        # check_embedding_ctx_length off: on, langchain-openai splits texts with tiktoken (cl100k,
        # downloaded at first use) and sends OpenAI token ids, which mean nothing to another model's
        # tokenizer. Off, it sends the texts, as the openai SDK does.
        return {"model": EMBEDDING_MODEL, "base_url": BASE_URL, "api_key": API_KEY, "timeout": TIMEOUT,
                "max_retries": 0, "check_embedding_ctx_length": False}
