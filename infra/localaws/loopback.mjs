// loopback.mjs, loaded with node --import, makes a server that asks for every
// interface listen on 127.0.0.1 instead. fauxqs listens on 0.0.0.0 whatever
// FAUXQS_HOST says (that variable only names the host in its queue URLs).
import net from "node:net";

const wildcard = new Set([undefined, null, "", "0.0.0.0", "::", "::0"]);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (first !== null && typeof first === "object" && !Array.isArray(first) && first.path === undefined) {
    if (wildcard.has(first.host)) args[0] = { ...first, host: "127.0.0.1" };
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] !== "string" || wildcard.has(args[1])) {
      if (typeof args[1] === "string" || args[1] === undefined || args[1] === null) args[1] = "127.0.0.1";
      else args.splice(1, 0, "127.0.0.1");
    }
  }
  return listen.apply(this, args);
};
