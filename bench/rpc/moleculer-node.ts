import moleculer from 'moleculer';

/**
 * A Moleculer 0.15 broker on its TCP transporter. UDP discovery is off and every node lists the
 * others in `urls` (host:port/nodeID), so two processes on 127.0.0.1 find each other without
 * multicast. Everything else stays at Moleculer's defaults (JSON serializer, fastest-validator),
 * which is what a Moleculer user runs; its logger is off.
 */
export function createMoleculerBroker(nodeID: string, port: number, urls: readonly string[]): moleculer.ServiceBroker {
  return new moleculer.ServiceBroker({
    nodeID,
    logger: false,
    transporter: { type: 'TCP', options: { udpDiscovery: false, useHostname: false, port, urls: urls.join(',') } },
  });
}

/** Parses the worker arguments: NODE_ID PORT URL… */
export function parseArgs(argv: readonly string[]): { nodeID: string; port: number; urls: string[] } {
  const [nodeID, port, ...urls] = argv;
  return { nodeID, port: Number(port), urls };
}
