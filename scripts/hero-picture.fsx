// Lays out docs/roundtrip-butterfly.png from the images `rescale roundtrip` wrote: the same crop of the HR, of our LR,
// of our round trip and of bicubic's, magnified with nearest neighbour, each labelled. scripts/hero-picture.sh runs it
// with the SkiaSharp of the built tool (artifacts/rescale), so it draws with the copy the library uses.
// Arguments: HR LR ROUNDTRIP BICUBIC SCALE ROUNDTRIP_DB BICUBIC_DB OUT.png
#r "../artifacts/rescale/SkiaSharp.dll"
open System.IO
open SkiaSharp

let args = fsi.CommandLineArgs |> Array.skip 1
let hr, lr, rt, bic = SKBitmap.Decode args.[0], SKBitmap.Decode args.[1], SKBitmap.Decode args.[2], SKBitmap.Decode args.[3]
let scale, rtDb, bicDb, outPath = int args.[4], args.[5], args.[6], args.[7]

let crop = 128                      // HR pixels: the centre of the image
let zoom = 2                        // every panel is crop·zoom wide
let panel = crop * zoom
let x0, y0 = (hr.Width - crop) / 2 / scale * scale, (hr.Height - crop) / 2 / scale * scale
let labelHeight, gap = 44, 8

let info = SKImageInfo(4 * panel + 3 * gap, panel + labelHeight, SKColorType.Rgba8888, SKAlphaType.Premul)
let surface = SKSurface.Create info
let canvas = surface.Canvas
canvas.Clear SKColors.White
let font = new SKFont(SKTypeface.FromFamilyName "DejaVu Sans", 15.0f)
let ink = new SKPaint(Color = SKColors.Black, IsAntialias = true)
let nearest = SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None)

let draw i (bitmap: SKBitmap) (src: SKRect) (title: string) (detail: string) =
    let left = float32 (i * (panel + gap))
    use image = SKImage.FromBitmap bitmap
    canvas.DrawImage(image, src, SKRect(left, 0.0f, left + float32 panel, float32 panel), nearest)
    canvas.DrawText(title, left + 4.0f, float32 panel + 18.0f, font, ink)
    canvas.DrawText(detail, left + 4.0f, float32 panel + 37.0f, font, ink)

let hrRect = SKRect(float32 x0, float32 y0, float32 (x0 + crop), float32 (y0 + crop))
let lrRect = SKRect(float32 (x0 / scale), float32 (y0 / scale), float32 ((x0 + crop) / scale), float32 ((y0 + crop) / scale))
draw 0 hr hrRect "HR (input)" $"crop {crop}², ×{zoom} nearest"
draw 1 lr lrRect $"our LR (IRN ×{scale})" $"×{zoom * scale} nearest"
draw 2 rt hrRect "our round trip" $"Y-PSNR {rtDb} dB"
draw 3 bic hrRect "bicubic down/up" $"Y-PSNR {bicDb} dB"

let png = surface.Snapshot().Encode(SKEncodedImageFormat.Png, 100)
let tmp = outPath + ".tmp"
File.WriteAllBytes(tmp, png.ToArray())
File.Move(tmp, outPath, true)
printfn "wrote %s" outPath
