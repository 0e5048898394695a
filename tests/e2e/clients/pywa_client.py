"""Sends one text through wa-edge with pywa, unmodified, as a business's code would: pywa's own
client, with an httpx event hook that points Meta's host at the worker. Prints the message id,
or the exception pywa raised (its class and Meta's code), as JSON."""

import json
import os

import httpx
from pywa import WhatsApp
from pywa.errors import WhatsAppError

worker = httpx.URL(os.environ["WA_EDGE_URL"])


def to_worker(request: httpx.Request) -> None:
    request.url = request.url.copy_with(
        scheme=worker.scheme, host=worker.host, port=worker.port
    )


wa = WhatsApp(
    phone_id=os.environ["PHONE_ID"],
    token=os.environ["WA_EDGE_TOKEN"],
    session=httpx.Client(event_hooks={"request": [to_worker]}),
)
try:
    sent = wa.send_message(to=os.environ["TO"], text=os.environ["TEXT"])
    print(json.dumps({"id": sent.id}))
except WhatsAppError as e:
    print(json.dumps({"raised": type(e).__name__, "code": e.code}))
