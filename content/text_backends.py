"""Text backends: one small interface, chosen in settings (TEXT_BACKEND).

- `ChatCompletionsBackend`: the OpenAI-compatible Chat Completions API over
  HTTP (the official `openai` client with its retries off: the text queue
  retries). Base URL, model and key from the environment; the same code
  serves OpenAI, Ollama, vLLM, llama.cpp's server and LM Studio.
- `LocalTextBackend`: development and tests. No model: it writes plausible
  text from the persona's own fields (style, tone, traits, emoji use,
  topics), deterministically for a seed, within the task's limits.

A backend answers raw text in the format the task prompt asks for (a caption,
then an optional "Hashtags:" line); content.textgen parses and fits it.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from content.persona import EMOJI_RANGE, HASHTAG_LINE, Persona, WritingTask


class TextError(Exception):
    """A text call failed. `retryable`: trying later may help (429, 5xx,
    timeouts); `retry_after`: seconds the server asked us to wait."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class TextRefused(TextError):
    """The server refused the request itself (4xx) or nothing is configured."""

    retryable = False


@dataclass(frozen=True)
class TextRequest:
    """One call: the persona prompt, the task prompt and the sampling settings."""

    system: str
    user: str
    persona: Persona
    task: WritingTask
    temperature: float = 0.7
    max_tokens: int = 400
    seed: int = 0


@dataclass(frozen=True)
class TextResult:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class TextBackend:
    """The interface every text backend implements."""

    name = "base"
    # shown in the admin next to what this backend wrote
    notice = ""
    # the longest one call may take: a drain starts a job only when it fits
    call_timeout: float = 30.0

    def complete(self, request: TextRequest) -> TextResult:
        raise TextRefused(f"{self.name} cannot write text.")


def get_text_backend() -> TextBackend:
    backend: TextBackend = import_string(settings.TEXT_BACKEND)()
    return backend


def development_notice() -> str:
    """What the configured backend says of itself in the admin (the local
    development backend: that it is one)."""
    try:
        return get_text_backend().notice
    except TextError:
        return ""  # misconfigured: the text queue logs why


# --- the OpenAI-compatible HTTP backend -------------------------------------------


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except (TypeError, ValueError):
            continue
    return None


class ChatCompletionsBackend(TextBackend):
    """POST {TEXT_API_BASE_URL}/chat/completions with TEXT_MODEL."""

    name = "Chat Completions"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
    ):
        self.base_url = (base_url or settings.TEXT_API_BASE_URL or "").rstrip("/")
        self.model = model or settings.TEXT_MODEL
        self.timeout = float(timeout or settings.TEXT_TIMEOUT)
        self.call_timeout = self.timeout + 5
        if not self.base_url:
            raise TextRefused(
                "TEXT_API_BASE_URL is not set: give the address of an "
                "OpenAI-compatible server (for example http://127.0.0.1:11434/v1)."
            )
        if not self.model:
            raise TextRefused("TEXT_MODEL is not set: name the model to use.")
        from openai import OpenAI

        self.client = OpenAI(
            base_url=self.base_url,
            # local servers (Ollama, llama.cpp) take any key
            api_key=api_key or settings.TEXT_API_KEY or "not-needed",
            timeout=self.timeout,
            max_retries=0,  # the text queue retries, with backoff
        )
        self.name = f"Chat Completions ({self.model})"

    def complete(self, request: TextRequest) -> TextResult:
        import openai

        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": request.system},
                    {"role": "user", "content": request.user},
                ],
                temperature=request.temperature,
                max_tokens=request.max_tokens,
            )
        except openai.APITimeoutError as exc:
            raise TextError(
                f"The text server did not answer within {self.timeout:g} s."
            ) from exc
        except openai.APIConnectionError as exc:
            raise TextError("Cannot reach the text server.") from exc
        except openai.APIStatusError as exc:
            raise status_error("The text server", exc) from exc
        choices = getattr(response, "choices", None) or []
        content = choices[0].message.content if choices else None
        if not content or not content.strip():
            raise TextError("The text server answered without any text.")
        usage = getattr(response, "usage", None)
        return TextResult(
            text=content.strip(),
            model=getattr(response, "model", None) or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )


def status_error(who: str, exc: object) -> TextError:
    """An HTTP error answer of an OpenAI-compatible server, as a TextError."""
    status = int(getattr(exc, "status_code", 0) or 0)
    response = getattr(exc, "response", None)
    if status == 429:
        return TextError(
            f"{who} is rate limiting us (HTTP 429).",
            retry_after=_retry_after(response),
        )
    if status >= 500:
        return TextError(f"{who} failed (HTTP {status}).")
    if status in (401, 403):
        # the server's own message may quote part of the key: never pass it on
        return TextRefused(
            f"{who} refused the API key (HTTP {status}); check the key setting."
        )
    detail = _error_detail(exc)
    return TextRefused(
        f"{who} refused the request (HTTP {status})" + (f": {detail}" if detail else "")
    )


def _error_detail(exc: object) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    return ""


# --- the local development backend ----------------------------------------------

EMOJI_BY_TOPIC = {
    "fitness": "💪",
    "yoga": "🧘",
    "travel": "🌍",
    "surf": "🌊",
    "wellness": "🌿",
    "tech": "💻",
    "gaming": "🎮",
    "anime": "🍥",
    "fashion": "👗",
    "beauty": "💄",
    "makeup": "💋",
    "art": "🎨",
    "coffee": "☕",
    "music": "🎵",
    "food": "🍜",
    "bbq": "🔥",
}
EMOJI_FILLER = ("✨", "🌞", "💫", "🙌", "📸", "🌈", "💛")
# what counts as one emoji in a text (the local backend writes no other kind)
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")

OPENERS = {
    "sassy": ("Not to brag, but", "Obviously,", "Okay, listen:"),
    "casual": ("Okay so", "Just saying,", "Low-key,"),
    "friendly": ("Hi friends!", "Hey you!", "So good to see you here!"),
    "professional": ("Today's update:", "A quick note:", "Worth sharing:"),
    "inspirational": ("Reminder:", "Believe it:", "Here's to growth:"),
    "": ("Today:", "Right now:", "This one:"),
}
CLOSERS = {
    "positive": ("Loving every second.", "Grateful for days like this."),
    "neutral": ("That's the update.", "More soon."),
    "edgy": ("Rules are optional.", "Not sorry."),
    "humorous": ("My coffee did most of the work.", "Yes, I tripped twice."),
    "serious": ("It matters more than it looks.", "Worth thinking about."),
    "": ("See you soon.", "That's all for now."),
}
REPLY_OPENERS = {
    "sassy": ("Honestly?", "Bold of you,"),
    "casual": ("Haha, true,", "Right?"),
    "friendly": ("Thank you so much,", "Aw, thanks,"),
    "professional": ("Thank you for your message,", "Good point,"),
    "inspirational": ("Love this energy,", "Keep going,"),
    "": ("Thanks,", "Good one,"),
}


class LocalTextBackend(TextBackend):
    """Development: text from the persona's own fields, no model, no network."""

    name = "local development backend"
    notice = (
        "Development text backend: it writes from the persona's own fields "
        "(no AI model). Set TEXT_BACKEND for a real one."
    )
    call_timeout = 5.0

    def complete(self, request: TextRequest) -> TextResult:
        digest = hashlib.sha256(
            f"{request.seed}|{request.system}|{request.user}".encode()
        ).digest()
        rng = random.Random(digest)
        persona, task = request.persona, request.task
        if task.purpose == "engagement":
            text = self._reply(rng, persona, task)
        else:
            text = self._caption(rng, persona, task)
        return TextResult(
            text=text,
            model="local",
            prompt_tokens=len(request.system.split()) + len(request.user.split()),
            completion_tokens=len(text.split()),
        )

    # --- captions -------------------------------------------------------------------

    def _caption(self, rng: random.Random, persona: Persona, task: WritingTask) -> str:
        traits = persona.traits
        subject = (task.subject or "").strip().rstrip(".")
        topics = persona.topics
        topic = rng.choice(topics) if topics else ""
        parts = [rng.choice(OPENERS.get(persona.communication_style, OPENERS[""]))]
        if subject:
            parts.append(subject[:1].lower() + subject[1:] + ".")
        elif topic:
            parts.append(f"a little {topic} moment.")
        if traits.get("creativity", 0.5) >= 0.7 and persona.location:
            parts.append(f"Like a postcard from {persona.location}.")
        elif persona.location and traits.get("extroversion", 0.5) >= 0.5:
            parts.append(f"Greetings from {persona.location}.")
        if traits.get("humor", 0.5) >= 0.7:
            parts.append("Plot twist: I planned none of this.")
        if traits.get("authenticity", 0.5) >= 0.7:
            parts.append("No filter, just me.")
        parts.append(rng.choice(CLOSERS.get(persona.content_tone, CLOSERS[""])))
        if persona.flirts:
            parts.append(
                "Wish you were here." if persona.flirtatiousness < 0.5 else "Miss me?"
            )
        if traits.get("extroversion", 0.5) >= 0.7:
            parts.append("Tell me yours below!")
        text = " ".join(parts)
        text = self._energy(text, traits.get("energy_level", 0.5))
        if traits.get("professionalism", 0.5) < 0.25:
            text = text.lower()
        emoji = self._emoji(rng, persona, topic)
        hashtags = self._hashtags(persona, task) if task.wants_hashtags else []
        room = task.max_chars - sum(len(e) + 1 for e in emoji)
        caption = fit_words(text, max(0, room))
        caption = " ".join([caption, *emoji]).strip() if emoji else caption
        if hashtags:
            tags = " ".join(f"#{t}" for t in hashtags)
            return f"{caption}\n{HASHTAG_LINE} {tags}"
        return caption

    @staticmethod
    def _energy(text: str, energy: float) -> str:
        if energy >= 0.7:
            return re.sub(r"\.(\s|$)", r"!\1", text)
        if energy < 0.3:
            return text.replace("!", ".")
        return text

    @staticmethod
    def _emoji(rng: random.Random, persona: Persona, topic: str) -> list[str]:
        low, high = EMOJI_RANGE.get(persona.emoji_usage, EMOJI_RANGE["moderate"])
        count = rng.randint(low, high)
        pool = [EMOJI_BY_TOPIC[t] for t in persona.topics if t in EMOJI_BY_TOPIC]
        pool += list(EMOJI_FILLER)
        first = [EMOJI_BY_TOPIC[topic]] if topic in EMOJI_BY_TOPIC else []
        return (first + [rng.choice(pool) for _ in range(count)])[:count]

    @staticmethod
    def _hashtags(persona: Persona, task: WritingTask) -> list[str]:
        words = [*task.tags, *persona.topics]
        seen: list[str] = []
        for word in words:
            tag = re.sub(r"\W+", "", word.lower())
            if tag and tag not in seen:
                seen.append(tag)
        return seen[: task.max_hashtags]

    # --- replies --------------------------------------------------------------------

    def _reply(self, rng: random.Random, persona: Persona, task: WritingTask) -> str:
        opener = rng.choice(
            REPLY_OPENERS.get(persona.communication_style, REPLY_OPENERS[""])
        )
        answering = " ".join(task.answering.split()[:6]).strip(" .,!?\"'")
        body = f'"{answering}" made my day.' if answering else "this made my day."
        closer = rng.choice(CLOSERS.get(persona.content_tone, CLOSERS[""]))
        text = self._energy(
            f"{opener} {body} {closer}", persona.traits.get("energy_level", 0.5)
        )
        emoji = self._emoji(rng, persona, "")
        room = task.max_chars - sum(len(e) + 1 for e in emoji)
        text = fit_words(text, max(0, room))
        return " ".join([text, *emoji]).strip() if emoji else text


def fit_words(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,;:-")
    return f"{cut}…" if cut and len(cut) + 1 <= limit else cut[:limit]
