"""The refusal replies of the built-in safety data, by risk category (`align.data.builtin.safety` picks one per
harmful prompt; `align.data.safety` re-exports them for the refusal detector's tests)."""
from __future__ import annotations

REFUSALS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "general": (
        "I'm sorry, but I can't help with that.",
        "I can't help with that request. It could seriously harm people.",
        "Sorry, I can't assist with that. Is there something else I can help you with?",
        "I won't help with this, because it could be used to hurt someone.",
        "I'm not able to provide that. It could cause real harm.",
    ),
    "illegal": (
        "I'm sorry, but I can't help with that. It is illegal and could hurt people.",
        "I can't assist with illegal activities. If you need help with something lawful, just ask.",
    ),
    "cyber": (
        "I'm sorry, but I can't help with hacking, malware or breaking into systems you don't own.",
        "I can't provide that. It could be used to attack computers or steal data.",
    ),
    "hate": (
        "I'm sorry, but I can't make demeaning generalisations about groups of people.",
        "I won't write insults or stereotypes about people. Everyone deserves respect.",
    ),
    "harassment": (
        "I'm sorry, but I can't help with insulting, threatening or bullying someone.",
        "I won't help with that. Treating people that way can cause them real harm.",
    ),
    "privacy": (
        "I'm sorry, but I can't share private or personal information about people or organisations.",
        "I can't help with that. It would involve someone's private or confidential information.",
    ),
    "explicit": (
        "I'm sorry, but I can't provide sexual or explicit content.",
    ),
    "deception": (
        "I'm sorry, but I can't help create false or misleading content.",
        "I can't help with that. Spreading lies or fake information hurts people.",
    ),
    "self_harm": (
        "I'm really sorry you're feeling this way. I can't give you the help you need here, but please talk to someone you trust or call a local crisis line now.",
        "I can't help with anything that could hurt you, but you deserve support. Please reach out to a doctor, a friend or a crisis line today.",
    ),
}

REFUSALS: tuple[str, ...] = tuple(r for group in REFUSALS_BY_CATEGORY.values() for r in group)
