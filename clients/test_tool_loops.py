"""Tool loops with the OpenAI Agents SDK and with LangChain against the stack: the model calls a
function tool, the client runs it and sends the result back, the model answers from it."""

import pytest
from agents import Agent, ModelSettings, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
from agents.items import ToolCallItem, ToolCallOutputItem
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI

from conftest import API_KEY, BASE_URL, CHAT_MODEL, TIMEOUT

# The SDK otherwise sends its traces to api.openai.com.
set_tracing_disabled(True)

CALLS: list[str] = []


def weather(city: str) -> str:
    CALLS.append(city)
    return f"It is sunny and 21 degrees Celsius in {city}."


@pytest.fixture(autouse=True)
def fresh_calls():
    CALLS.clear()


async def test_agents_sdk_tool_loop():
    """An Agents SDK agent with one function tool, on the Chat Completions API (the Responses API's
    loop is in test_responses_agents.py): the model calls the tool, gets its result, and answers
    from it."""
    model = OpenAIChatCompletionsModel(
        model=CHAT_MODEL, openai_client=AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, timeout=TIMEOUT,
                                                    max_retries=0))
    agent = Agent(name="Weather", instructions="You answer questions about the weather. Use the tools.",
                  model=model, tools=[function_tool(weather, name_override="get_weather")],
                  model_settings=ModelSettings(temperature=0))
    result = await Runner.run(agent, "What is the weather in Paris?", max_turns=5)
    calls = [item for item in result.new_items if isinstance(item, ToolCallItem)]
    outputs = [item for item in result.new_items if isinstance(item, ToolCallOutputItem)]
    assert calls and calls[0].raw_item.name == "get_weather"
    assert "Paris" in CALLS
    assert outputs and "sunny" in outputs[0].output
    assert isinstance(result.final_output, str) and result.final_output.strip()
    assert "21" in result.final_output or "sunny" in result.final_output.lower()


def test_langchain_tool_loop():
    """ChatOpenAI.bind_tools: the model asks for the tool, the client runs it and sends a ToolMessage
    back, the model answers in words from the result."""

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return weather(city)

    llm = ChatOpenAI(model=CHAT_MODEL, base_url=BASE_URL, api_key=API_KEY, timeout=TIMEOUT, max_retries=0,
                     temperature=0).bind_tools([get_weather])
    messages = [HumanMessage("What is the weather in Paris?")]
    first = llm.invoke(messages)
    assert isinstance(first, AIMessage) and first.tool_calls
    assert first.tool_calls[0]["name"] == "get_weather"
    messages.append(first)
    for call in first.tool_calls:
        messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    assert "Paris" in CALLS
    final = llm.invoke(messages)
    assert not final.tool_calls and isinstance(final.content, str) and final.content.strip()
    assert "21" in final.content or "sunny" in final.content.lower()
