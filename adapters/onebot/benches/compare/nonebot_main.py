"""NoneBot2 (FastAPI driver) with its OneBot v11 adapter and the keyword bot; the
implementation connects to ws://127.0.0.1:<port>/onebot/v11/ws. Usage: nonebot_main.py PORT"""

import sys

import nonebot
from nonebot.adapters.onebot.v11 import Adapter

nonebot.init(driver="~fastapi", host="127.0.0.1", port=int(sys.argv[1]), log_level="WARNING")
nonebot.get_driver().register_adapter(Adapter)
nonebot.load_plugin("nonebot_keyword")

if __name__ == "__main__":
    nonebot.run()
