"""A pymodbus (3.0) TCP server for the Modbus driver's interop test.

Listens on 127.0.0.1 on a free port, prints the port on stdout, and
serves until stdin closes. Tables (zero-based, 100 addresses each):
holding register i = 100 + i, input register i = 200 + i, coil i and
discrete input i = i odd. Addresses 100 and up do not exist, so reading
them gives exception 2 (illegal data address).
"""

import asyncio
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusTcpServer


async def main():
    slave = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [i % 2 for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 2 for i in range(100)]),
        hr=ModbusSequentialDataBlock(0, [100 + i for i in range(100)]),
        ir=ModbusSequentialDataBlock(0, [200 + i for i in range(100)]),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves=slave, single=True)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0))
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print(server.server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.shutdown()
    task.cancel()


asyncio.run(main())
