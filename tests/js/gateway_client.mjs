// A JavaScript client of the Toree kernel through the Jupyter Kernel Gateway, with @jupyterlab/services
// (what JupyterLab itself uses) and the `ws` WebSocket. Prints "RESULT <text/plain>" and exits 0.
//
//   NODE_DEPS=<dir with node_modules> node gateway_client.mjs http://127.0.0.1:8888 apache_toree_pyspark
//
// The dependencies live wherever `npm install --prefix <dir> @jupyterlab/services ws` put them.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_DEPS ?? process.cwd(), 'package.json'));
const { KernelManager, ServerConnection } = require('@jupyterlab/services');
const { WebSocket } = require('ws');

const [baseUrl, kernelName = 'apache_toree_pyspark', code = 'spark.range(5).count()'] = process.argv.slice(2);
const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, 'ws'),
  WebSocket,
  appendToken: false,
});

const manager = new KernelManager({ serverSettings });
const kernel = await manager.startNew({ name: kernelName });
let status = 1;
try {
  const info = await kernel.info;
  console.log(`KERNEL ${info.implementation} ${kernel.id}`);
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'execute_result') console.log(`RESULT ${msg.content.data['text/plain']}`);
    if (msg.header.msg_type === 'error') console.log(`ERROR ${msg.content.ename}: ${msg.content.evalue}`);
  };
  const reply = await future.done;
  console.log(`STATUS ${reply.content.status}`);
  status = reply.content.status === 'ok' ? 0 : 1;
} finally {
  await kernel.shutdown();
  manager.dispose();
}
process.exit(status);
