// The page's request as a script would send it: curl and the `openai` SDK, for the chosen
// format as one file (the page itself streams pcm over SSE to play while it is made).

const SHELL_QUOTE = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The OpenAI request body of a generation in `params` (no streaming fields). */
export function speechBody(params) {
  const body = { model: "f5-tts", input: params.text, voice: params.voice, response_format: params.format };
  if (params.speed !== 1) body.speed = params.speed;
  if (params.nfe_step !== null) body.nfe_step = params.nfe_step;
  if (params.seed !== null) body.seed = params.seed;
  return body;
}

export function curlSnippet(params, origin, withKey) {
  const body = speechBody(params);
  const auth = withKey ? ` -H "Authorization: Bearer $API_KEY"` : "";
  return (
    `curl -s ${origin}/v1/audio/speech -H 'Content-Type: application/json'${auth} \\\n` +
    `  -d ${SHELL_QUOTE(JSON.stringify(body))} -o speech.${body.response_format}`
  );
}

export function pythonSnippet(params, origin, withKey) {
  const body = speechBody(params);
  const extra = Object.entries(body)
    .filter(([name]) => name === "nfe_step" || name === "seed")
    .map(([name, value]) => `"${name}": ${value}`);
  const args = [
    `model="f5-tts"`,
    `voice=${JSON.stringify(body.voice)}`,
    `input=${JSON.stringify(body.input)}`,
    `response_format="${body.response_format}"`,
  ];
  if (body.speed !== undefined) args.push(`speed=${body.speed}`);
  if (extra.length) args.push(`extra_body={${extra.join(", ")}}`);
  const key = withKey ? `os.environ["API_KEY"]` : `"unused-without-API_KEY"`;
  return [
    withKey ? "import os\n\n" : "",
    "from openai import OpenAI\n\n",
    `client = OpenAI(base_url="${origin}/v1", api_key=${key})\n`,
    "client.audio.speech.create(\n",
    `    ${args.join(",\n    ")},\n`,
    `).write_to_file("speech.${body.response_format}")\n`,
  ].join("");
}
