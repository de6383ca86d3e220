"""Text of a completion in TRL's two shapes: a string, or a conversation (list of messages)."""
from __future__ import annotations


def completion_text(completion) -> str:
    """A string as is; for a conversation, the assistant messages' contents joined by newlines."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    parts = []
    for message in completion or ():
        if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            content = message.get("content") or ""
            if isinstance(content, list):  # multimodal content blocks: keep the text ones
                content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
            parts.append(str(content))
    return "\n".join(parts)
