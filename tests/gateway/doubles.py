"""Plain stand-ins for the Tool and Environment fields the upstream request builder reads
(no database needed)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeTool:
    name: str = "t"
    method: str = "GET"
    path: str = "/pets/{petId}"
    arg_map: dict = field(default_factory=dict)
    body_content_type: str = ""
    output_schema: dict | None = None
    security: list = field(default_factory=list)


@dataclass
class FakeEnv:
    name: str = "production"
    base_url: str = "https://api.example.com/v1/"
    allow_private_network: bool = False
