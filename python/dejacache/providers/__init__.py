"""Provider adapters: what dejacache knows of each SDK's requests, responses and streams.

Each module imports its SDK, so nothing here is imported until a client of that SDK is wrapped.
"""
