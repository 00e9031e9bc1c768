"""Anthropic: what dejacache knows of the SDK's requests, responses and streams. Imports ``anthropic``;
loaded only when an Anthropic client is wrapped."""
