"""OpenAI: what dejacache knows of the SDK's requests, responses and streams. Imports ``openai``;
loaded only when an OpenAI client is wrapped."""
