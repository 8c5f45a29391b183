"""Fakes of the services the prebuilt connectors call, for testing your app without network.

Each module holds a state class (its data, knobs and records) and an aiohttp app factory;
serve the app with `connectql.testing.FakeUpstream` on 127.0.0.1, on a free port:

    from connectql.testing import FakeUpstream
    from connectql.testing.fakes.openai import DEFAULT_API_KEY, OpenAIState, create_openai_app

    state = OpenAIState()
    async with FakeUpstream(create_openai_app(state)) as fake:
        config = {"base_url": f"{fake.url}/v1", "api_key": DEFAULT_API_KEY}
        ...  # run your app with that config
        assert fake.count("POST", "/v1/chat/completions") == 1  # the call log
        fake.requests[-1].json()  # what was sent

Modules: `github` (validates requests against GitHub's OpenAPI description: needs the
`openapi-core` package), `slack`, `openai`, `openrouter` (validates requests against the
official `openrouter` SDK's request models: needs that package), `google_cloud` (Translate,
Vision, Speech; validates against Google's discovery documents: needs
`google-api-python-client`), `google_genai`, `salesforce`, `aws` (a SigV4-checking front of
moto's server: needs `moto[server]`). Import the one you need; this
package imports none of them.
"""
