// Sends one text through wa-edge with whatsapp-api-js, unmodified, as a business's code would:
// the library's own client, with a fetch that points Meta's host at the worker (its
// documented `ponyfill.fetch`). Prints what the library returned, as JSON.
import { WhatsAppAPI } from "whatsapp-api-js";
import { Text } from "whatsapp-api-js/messages";

const { WA_EDGE_URL, WA_EDGE_TOKEN, PHONE_ID, TO, TEXT } = process.env;

const toWorker = (input, init) =>
  fetch(String(input).replace("https://graph.facebook.com", WA_EDGE_URL), init);

const api = new WhatsAppAPI({
  token: WA_EDGE_TOKEN,
  appSecret: "unused-for-sending",
  v: "v24.0",
  ponyfill: { fetch: toWorker },
});

const result = await api.sendMessage(PHONE_ID, TO, new Text(TEXT));
process.stdout.write(JSON.stringify(result));
