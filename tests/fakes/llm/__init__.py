"""Fake LLM provider servers: OpenAI, Groq and Gemini, over their real HTTP APIs.

Each fake is a small ASGI app served by uvicorn on 127.0.0.1:0, driven through
the real SDKs (`openai`, `groq`, `google-genai`) by pointing their base URL at it:

    async with FakeLLM(OPENAI) as fake:                  # or GROQ, GEMINI
        fake.push(fake.rate_limited(retry_after_s=1))    # scripted replies first...
        client = AsyncOpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)
        ...                                              # ...then generated successes
        assert len(fake.requests) == 2

What a fake does, all optional and per instance:

- scripted replies (`push`): status, headers, body and delay, consumed in order;
- generated successes in the provider's own body shape, with usage figures
  (prompt, completion and provider-cached prompt tokens);
- latency drawn from a function (`latency=lognormal(median_s=1.5)`);
- a rate limiter emulating the provider's (`limiter=RateBucket(...)`): it
  answers 429 past its limit and, for OpenAI and Groq, sends `x-ratelimit-*`
  headers on every answer (Gemini sends none, and a `RetryInfo` in the body);
- a prompt-prefix cache emulating the providers' automatic prompt caching
  (at least 1,024 tokens, in 128-token steps), which sets the cached-token count.

`python -m tests.fakes.llm --dialect openai` serves one from the command line.
"""

from tests.fakes.llm.core import FakeLLM, RateBucket, Reply, Seen, constant, lognormal
from tests.fakes.llm.dialects import DIALECTS, GEMINI, GROQ, OPENAI, Dialect

__all__ = [
    "DIALECTS",
    "GEMINI",
    "GROQ",
    "OPENAI",
    "Dialect",
    "FakeLLM",
    "RateBucket",
    "Reply",
    "Seen",
    "constant",
    "lognormal",
]
