// Upscales an LR image with an exported upscale.onnx (input 'input' [1, 3, h, w] RGB in [0, 1], output 'output'
// [1, 3, s·h, s·w]) in onnxruntime-web, tile by tile like the .NET engines (192-pixel LR tiles, 24 pixels of context),
// so a large image never needs one huge tensor.
//
// Interactive: choose the model and the image. Automated (the repository's browser test):
//   index.html?model=URL&image=URL[&backend=wasm|webgpu][&repeat=N][&report=URL]
// runs at once, N times, and POSTs {width, height, scale, backend, threads, loadMs, runsMs, rgb (base64)} to report.
'use strict';

const TILE = 192;
const OVERLAP = 24;

// An absolute URL: onnxruntime-web imports its .mjs loader from here, and a bare relative path is not a module URL.
ort.env.wasm.wasmPaths = new URL('node_modules/onnxruntime-web/dist/', location.href).href;
// Threads need SharedArrayBuffer, which a page has only when served cross-origin isolated (COOP + COEP headers).
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };

/** The tiles of a w×h LR grid: core [x0, x1) × [y0, y1) and its context region, as the .NET TileGrid cuts them. */
function tiles(w, h, tile, overlap) {
  const result = [];
  for (let y0 = 0; y0 < h; y0 += tile) {
    for (let x0 = 0; x0 < w; x0 += tile) {
      const y1 = Math.min(h, y0 + tile), x1 = Math.min(w, x0 + tile);
      const cx = Math.max(0, x0 - overlap), cy = Math.max(0, y0 - overlap);
      result.push({ x0, y0, x1, y1, cx, cy, cw: Math.min(w, x1 + overlap) - cx, ch: Math.min(h, y1 + overlap) - cy });
    }
  }
  return result;
}

/** Decodes an image (no colour conversion, no premultiplication) into RGBA bytes. */
async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  return { width: bitmap.width, height: bitmap.height, rgba: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data };
}

/** Runs the upscaler over the tiles; returns the upscaled RGBA bytes and the scale the graph applied. */
async function upscale(session, image) {
  const { width: w, height: h, rgba } = image;
  let scale = 0, out = null;
  for (const t of tiles(w, h, TILE, OVERLAP)) {
    const plane = t.cw * t.ch, input = new Float32Array(3 * plane);
    for (let y = 0; y < t.ch; y++) {
      for (let x = 0; x < t.cw; x++) {
        const src = ((t.cy + y) * w + t.cx + x) * 4, dst = y * t.cw + x;
        input[dst] = rgba[src] / 255;
        input[plane + dst] = rgba[src + 1] / 255;
        input[2 * plane + dst] = rgba[src + 2] / 255;
      }
    }
    const result = await session.run({ input: new ort.Tensor('float32', input, [1, 3, t.ch, t.cw]) });
    const output = result.output, [, , oh, ow] = output.dims;
    const values = await output.getData();
    if (!scale) {
      scale = ow / t.cw;
      if (!Number.isInteger(scale) || oh !== t.ch * scale) throw new Error(`the graph mapped ${t.cw}×${t.ch} to ${ow}×${oh}: not an upscaler`);
      out = new Uint8ClampedArray(w * scale * h * scale * 4);
    }
    const W = w * scale, oplane = ow * oh;
    for (let y = (t.y0 - t.cy) * scale; y < (t.y1 - t.cy) * scale; y++) {
      for (let x = (t.x0 - t.cx) * scale; x < (t.x1 - t.cx) * scale; x++) {
        const src = y * ow + x, dst = ((t.cy * scale + y) * W + t.cx * scale + x) * 4;
        for (let c = 0; c < 3; c++) out[dst + c] = Math.round(Math.min(1, Math.max(0, values[c * oplane + src])) * 255);
        out[dst + 3] = 255;
      }
    }
    output.dispose?.();
  }
  return { scale, rgba: out };
}

function show(canvasId, width, height, rgba, displayWidth, displayHeight) {
  const canvas = $(canvasId);
  canvas.width = width;
  canvas.height = height;
  canvas.style.width = `${displayWidth}px`;
  canvas.style.height = `${displayHeight}px`;
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
}

async function createSession(modelBytes, wanted) {
  const backend = wanted === 'webgpu' && !navigator.gpu ? 'wasm' : wanted;
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
  return { session, backend, fellBack: backend !== wanted };
}

async function run(modelBytes, imageBlob, wanted, repeat) {
  status('loading the model…');
  const t0 = performance.now();
  const { session, backend, fellBack } = await createSession(modelBytes, wanted);
  const loadMs = performance.now() - t0;
  const image = await decode(imageBlob);
  const runsMs = [];
  let result = null;
  for (let i = 0; i < repeat; i++) {
    status(`upscaling ${image.width}×${image.height} (run ${i + 1} of ${repeat})…`);
    const t = performance.now();
    result = await upscale(session, image);
    runsMs.push(performance.now() - t);
  }
  await session.release();
  const W = image.width * result.scale, H = image.height * result.scale;
  show('lr', image.width, image.height, image.rgba, W, H);
  show('hr', W, H, result.rgba, W, H);
  const threads = backend === 'wasm' ? ort.env.wasm.numThreads : 'GPU';
  $('lr-caption').textContent = `LR ${image.width}×${image.height}, shown at ${W}×${H} (nearest neighbour)`;
  $('hr-caption').textContent = `upscaled ×${result.scale} to ${W}×${H} by upscale.onnx`;
  status(`${backend}${fellBack ? ` (this browser has no WebGPU: fell back to WASM)` : ''}, ${threads} thread(s): `
    + `model loaded in ${loadMs.toFixed(0)} ms; upscale ${image.width}×${image.height} → ${W}×${H} in `
    + runsMs.map((ms) => `${ms.toFixed(0)} ms`).join(', ')
    + (runsMs.length > 1 ? ` (first run includes warm-up)` : ''));
  return { width: W, height: H, scale: result.scale, backend, threads, loadMs, runsMs, rgba: result.rgba };
}

function toBase64Rgb(rgba) {
  const rgb = new Uint8Array(rgba.length / 4 * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4) { rgb[j++] = rgba[i]; rgb[j++] = rgba[i + 1]; rgb[j++] = rgba[i + 2]; }
  let text = '';
  for (let i = 0; i < rgb.length; i += 0x8000) text += String.fromCharCode(...rgb.subarray(i, i + 0x8000));
  return btoa(text);
}

async function automated(params) {
  const report = params.get('report');
  try {
    const fetchOk = async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return response;
    };
    const [modelResponse, imageResponse] = await Promise.all([fetchOk(params.get('model')), fetchOk(params.get('image'))]);
    const model = new Uint8Array(await modelResponse.arrayBuffer()), image = await imageResponse.blob();
    const r = await run(model, image, params.get('backend') || 'wasm', Math.max(1, Number(params.get('repeat') || 1)));
    if (report) {
      await fetch(report, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({
        width: r.width, height: r.height, scale: r.scale, backend: r.backend, threads: r.threads,
        loadMs: r.loadMs, runsMs: r.runsMs, rgb: toBase64Rgb(r.rgba) }) });
    }
  } catch (e) {
    status(`error: ${e.message}`);
    if (report) await fetch(report, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: String(e.message || e) }) });
  }
}

function interactive() {
  const ready = () => { $('run').disabled = !($('model').files.length && $('image').files.length); };
  $('model').addEventListener('change', ready);
  $('image').addEventListener('change', ready);
  if (!navigator.gpu) $('backend').querySelector('option[value=webgpu]').textContent = 'WebGPU (not in this browser)';
  $('run').addEventListener('click', async () => {
    $('run').disabled = true;
    try {
      const model = new Uint8Array(await $('model').files[0].arrayBuffer());
      await run(model, $('image').files[0], $('backend').value, 1);
    } catch (e) {
      status(`error: ${e.message}`);
    } finally {
      ready();
    }
  });
}

const params = new URLSearchParams(location.search);
if (params.has('model') && params.has('image')) automated(params); else interactive();
