"""The OpenAI Agents SDK on its default model, the Responses API (`OpenAIResponsesModel`), against
the stack: a function-tool loop whose history is kept by an `OpenAIConversationsSession` (the
SDK's session on `/v1/conversations`), and a second turn in the same session, sent with the first
one's history."""

from agents import (
    Agent,
    ModelSettings,
    OpenAIConversationsSession,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from agents.items import ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI

from conftest import API_KEY, BASE_URL, CHAT_MODEL, TIMEOUT

# The SDK otherwise sends its traces to api.openai.com.
set_tracing_disabled(True)

CALLS: list[str] = []


def weather(city: str) -> str:
    CALLS.append(city)
    return f"It is sunny and 21 degrees Celsius in {city}."


def client() -> AsyncOpenAI:
    return AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, timeout=TIMEOUT, max_retries=0)


async def test_agents_sdk_responses_tool_loop_in_a_conversations_session():
    openai_client = client()
    agent = Agent(name="Weather", instructions="You answer questions about the weather. Use the tools.",
                  model=OpenAIResponsesModel(model=CHAT_MODEL, openai_client=openai_client),
                  tools=[function_tool(weather, name_override="get_weather")],
                  model_settings=ModelSettings(temperature=0))
    session = OpenAIConversationsSession(openai_client=openai_client)
    CALLS.clear()
    result = await Runner.run(agent, "What is the weather in Paris?", session=session, max_turns=5)
    calls = [item for item in result.new_items if isinstance(item, ToolCallItem)]
    outputs = [item for item in result.new_items if isinstance(item, ToolCallOutputItem)]
    assert calls and calls[0].raw_item.name == "get_weather"
    assert "Paris" in CALLS
    assert outputs and "sunny" in outputs[0].output
    assert isinstance(result.final_output, str) and result.final_output.strip()

    # The session is a conversation on the server: the question, the call, its output and the answer.
    conversation_id = await session._get_session_id()
    items = [item async for item in openai_client.conversations.items.list(conversation_id, order="asc")]
    types = [item.type for item in items]
    assert "function_call" in types and "function_call_output" in types
    assert types[0] == "message" and items[0].role == "user"
    assert types[-1] == "message" and items[-1].role == "assistant"

    # A second turn in the same session carries the first: the session reads the whole history back
    # from the server and sends it as the input. (Without tools here: given the weather tool again,
    # the 0.5B model keeps calling it.)
    talker = agent.clone(model_settings=ModelSettings(temperature=0, tool_choice="none"))
    second = await Runner.run(talker, "Which city did I ask about? Answer with the city only.",
                              session=session, max_turns=2)
    assert isinstance(second.final_output, str) and second.final_output.strip()
    history = await session.get_items()
    assert len(history) > len(items)
    assert [item.get("role") for item in history].count("user") == 2
    await session.clear_session()
