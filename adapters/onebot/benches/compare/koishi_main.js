// Koishi with a OneBot adapter (reverse WebSocket at ws://127.0.0.1:<port>/onebot, account
// 10001) and the keyword bot: a message containing `ping` is answered with the same text,
// `ping` replaced by `pong`. Usage: node koishi_main.js PORT (run where koishi is installed).
//
// The adapter is koishi-plugin-adapter-onebot (peer koishi ^4.18): @koishijs/plugin-adapter-onebot
// 5.8.1, the newest on npm, is built on @satorijs/satori 2 (cordis 2) and fails inside
// koishi 4.18 (cordis 3) with "Cannot read properties of undefined (reading 'counter')".
//
// The adapter's bot needs the `http` service (`inject: ['http']`), which in koishi 4.18 is the
// separate @koishijs/plugin-http (a dependency of koishi): `koishi start` loads it, a bare
// Context does not, and without it the adapter never starts, nothing listens on /onebot and
// the server closes the generator's WebSocket at once.

const { Context } = require('koishi')
const http = require('@koishijs/plugin-http')
const server = require('@koishijs/plugin-server')
const onebot = require('koishi-plugin-adapter-onebot')

const ctx = new Context()
ctx.plugin(http.default || http)
ctx.plugin(server.default || server, { host: '127.0.0.1', port: Number(process.argv[2]) })
ctx.plugin(onebot.default || onebot, { protocol: 'ws-reverse', selfId: '10001', path: '/onebot' })
ctx.middleware((session, next) => {
  if (session.content && session.content.includes('ping')) {
    return session.content.replace('ping', 'pong')
  }
  return next()
})
ctx.start()
