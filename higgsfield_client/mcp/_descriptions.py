"""What the MCP server tells the model: its instructions and each tool's description.

Written for an LLM choosing a tool: what each one is for, when to use which, what costs money
(only ``generate``, and ``agent_run``'s turns) and what does not, and what to do next.
"""

from __future__ import annotations

INSTRUCTIONS = """\
Higgsfield AI generates images and videos from text and images. The usual order:
1. models_list (or the resource higgsfield://models) to pick a model; model_get for its arguments.
2. estimate to learn the price (free).
3. generate to start a job (this costs credits; pass an idempotency_key and reuse it on a retry).
4. job_wait (repeat while the job is queued or in progress), then download to save the outputs.
Images or videos the model needs as input must be URLs: upload turns a local file or a public URL
into one. agent_run talks to the Higgsfield agent, which plans and runs generations itself.
Money rules of this server are shown in every price and generate answer ("spending")."""

MODELS_LIST = """\
List the generation models this server knows (free, nothing is sent to the API): each one's
model_id, kind ("image" or "video") and, where known, its catalog price per image or per 5 s of
video. Use it first to choose a model; then call model_get for the arguments of the one you pick.
Give kind to list only image or only video models."""

MODEL_GET = """\
Describe one model (free): its arguments (name, type, required, default, allowed values), the full
JSON schema they are checked against, and its catalog price. Call it before generate: generate
refuses arguments that do not match this schema, and says which fields are wrong."""

ESTIMATE = """\
Price a generation without starting it. Free: nothing is generated or billed. Give the same
model_id and arguments you would give to generate; the answer is the API's own price for exactly
these arguments (credits and USD), checked against the model's schema first. Use it to tell the
user what a generation will cost before calling generate."""

GENERATE = """\
Start a generation job. THIS COSTS MONEY: the account is billed the model's price in credits
(estimate tells the price for free). The arguments are checked against the model's schema first;
a mistake comes back as an error listing the wrong fields, and nothing is submitted.
Always pass an idempotency_key (any unique string, such as a UUID you make up) and reuse the same
key if you retry this call: a repeated call with the same key returns the same job and is never
billed twice.
By default it returns at once with the job's request_id; call job_wait to wait for the outputs.
With wait_seconds it waits up to that long (capped by the server) and returns the outputs if the
job finished by then, else its state and request_id.
If this server asks for confirmation above a price, the answer is "confirmation_required" with
the price and a confirmation_token, and nothing is submitted: ask the user, then call generate
again with exactly the same model_id and arguments plus that token (it works once).
The server may also refuse a call over its per-call limit or its budget."""

JOB_STATUS = """\
Check a job's state once (free): queued, in_progress, completed (with its output URLs), failed
(with the reason), nsfw or canceled. Use job_wait instead to wait for it to finish."""

JOB_WAIT = """\
Wait for a job to finish, up to timeout_seconds (capped by the server), sending progress with its
state (queued, in_progress) while it waits. Free. Returns the outputs when it completes. If the
time runs out first it returns the job's current state and request_id: the job goes on, and
waiting again with job_wait is safe. It NEVER cancels the job and NEVER submits it again."""

JOB_CANCEL = """\
Cancel a job. Only a job that is still queued can be canceled (and it is then refunded); once it
is in progress it runs to its end and is billed. The answer says which case applied: "was_queued"
(canceled), "already_started" or "already_finished" (not canceled)."""

UPLOAD = """\
Make an input file usable by a model: upload it and get back a public URL to pass as an argument
(image_url, image_urls, video_url...). Free. The source is either a path to a file inside the
folders this server may read ({folders}), or an http(s) URL of a file on a public host (the server
fetches it; local, private and loopback addresses are refused). Supported: JPEG, PNG, WebP, GIF,
WAV and MP4; content_type is guessed from the file when not given."""

DOWNLOAD = """\
Save the outputs of a completed job as files, into a folder this server may write ({folders});
by default the first of them. Files are named <request_id>-<name>; an existing file is never
replaced. Free. Returns the paths."""

AGENT_RUN = """\
Send a message to the Higgsfield agent, which plans and runs image and video generations itself,
and wait for its answer (with progress). Each turn costs money (the answer's cost_usd says how
much). Without session_id a new session starts; pass the session_id of an earlier answer to go on
in the same conversation. The answer has the agent's text and the URLs of what it made.
If the agent asks a question, you may be asked to answer it directly; otherwise the answer is
"awaiting_input" with the question: ask the user, then call agent_run with the same session_id
and the answer as text. If the turn was still running when the wait ended, the answer is
"running" with a message_id: call agent_run with session_id and message_id (and no text) to wait
again."""
