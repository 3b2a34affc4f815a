"""The benchmark's keyword bot as a NoneBot2 plugin: a message containing `ping` is
answered with the same text, `ping` replaced by `pong`."""

from nonebot import on_keyword
from nonebot.adapters.onebot.v11 import MessageEvent

ping = on_keyword({"ping"})


@ping.handle()
async def _(event: MessageEvent):
    await ping.send(event.get_plaintext().replace("ping", "pong"))
