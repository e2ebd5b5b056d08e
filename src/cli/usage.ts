export const usage = `usage: shoal <command> [options]

commands:
  init [DIR]                write a starter project (config, a service, a test, tsconfig) into DIR
  up [CONFIG] [--nodes N] [--gateways G] [--detach]
                            start a local cluster (default config: ./shoal.config.ts, else the bundled links example)
  down                      stop the cluster running in --dir
  status [--json]           show every process of the cluster and its health
  call SERVICE.ACTION [JSON] [--version N]
                            call an action through the gateway
  scale N                   run N nodes: start new ones or drain the newest (its data moves first)
  rebalance [--no-wait]     spread data slots evenly over the nodes, with a progress bar
  lb --config FILE | --listen ADDR --upstream URL … [--algorithm NAME] [--workers N|auto]
                            a standalone reverse-proxy load balancer (shoal lb --help)
  bench SUITE               run a benchmark suite

options every command takes:
  --dir DIR                 cluster directory (default ./.shoal)
  --port P                  port base (default 7400): gateway P, control P+50, admin P+51,
                            node i transport P+100+i and HTTP P+200+i
  -h, --help                show this text
`;
