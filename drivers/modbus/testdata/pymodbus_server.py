"""A pymodbus (3.0) server for the Modbus driver's interop tests.

Serves Modbus TCP on 127.0.0.1 (a free port, or --port), or RTU or
ASCII on a serial device (--serial DEVICE --framer rtu|ascii), until
stdin closes. Prints the TCP port, or "ready" for a serial device, on
stdout once it serves.

Tables (zero-based, 100 addresses each): holding register i = 100 + i,
input register i = 200 + i, coil i and discrete input i = i odd.
Addresses 100 and up do not exist, so reading them gives exception 2
(illegal data address). With --units 1,2 only those unit ids are served
(each with its own tables, holding register 0 = 1000 * unit) and
requests for other units get no answer; without it every unit id is
answered from one set of tables.
"""

import argparse
import asyncio
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusAsciiFramer, ModbusRtuFramer


def tables(unit=None):
    hr = [100 + i for i in range(100)]
    if unit is not None:
        hr[0] = 1000 * unit
    return ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [i % 2 for i in range(100)]),
        co=ModbusSequentialDataBlock(0, [i % 2 for i in range(100)]),
        hr=ModbusSequentialDataBlock(0, hr),
        ir=ModbusSequentialDataBlock(0, [200 + i for i in range(100)]),
        zero_mode=True,
    )


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--units", default="")
    ap.add_argument("--serial", default="")
    ap.add_argument("--framer", choices=["rtu", "ascii"], default="rtu")
    ap.add_argument("--baud", type=int, default=19200)
    ap.add_argument("--parity", choices=["N", "E", "O"], default="N")
    args = ap.parse_args()

    if args.units:
        units = [int(u) for u in args.units.split(",")]
        context = ModbusServerContext(slaves={u: tables(u) for u in units}, single=False)
    else:
        context = ModbusServerContext(slaves=tables(), single=True)

    if args.serial:
        framer = ModbusRtuFramer if args.framer == "rtu" else ModbusAsciiFramer
        server = ModbusSerialServer(
            context, framer=framer, port=args.serial, baudrate=args.baud,
            bytesize=8, parity=args.parity, stopbits=1, timeout=0.05,
        )
        await server.start()
        if server.transport is None:
            sys.exit(f"cannot open {args.serial}")
        print("ready", flush=True)
    else:
        server = ModbusTcpServer(context, address=("127.0.0.1", args.port), allow_reuse_address=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        print(server.server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.shutdown()
    if not args.serial:
        task.cancel()


asyncio.run(main())
