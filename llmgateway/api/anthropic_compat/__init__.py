"""Anthropic's Messages API served over the gateway's one pipeline (any provider answers in Anthropic's shape)."""
