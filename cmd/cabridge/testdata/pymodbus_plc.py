"""A pymodbus (3.0) Modbus TCP server standing in for a PLC in the
daemon's end-to-end tests.

Listens on 127.0.0.1:PORT (argv[1], 0 for a free port), prints the port
once it serves, and serves until stdin closes. Every unit id is answered
from one set of tables of 1000 addresses each, all zero; addresses from
1000 up do not exist (exception 2).
"""

import asyncio
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusTcpServer

SIZE = 1000


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    slave = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [0] * SIZE),
        co=ModbusSequentialDataBlock(0, [0] * SIZE),
        hr=ModbusSequentialDataBlock(0, [0] * SIZE),
        ir=ModbusSequentialDataBlock(0, [0] * SIZE),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves=slave, single=True)
    server = ModbusTcpServer(context, address=("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print(server.server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.shutdown()
    task.cancel()


asyncio.run(main())
