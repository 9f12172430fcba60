"""OpenAI's Responses API served over the gateway's one pipeline, with stored responses per key owner."""
