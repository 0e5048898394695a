// The floor: what the runtime costs for a request that only reads its body and answers.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response("ok");
  },
};
