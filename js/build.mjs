// Bundles js/src into infoflow_widget/static/ (ESM, minified); `--watch` rebuilds on change for anywidget's HMR.
// Every build also copies src/style.json there: the Python static drawing reads the same colours and sizes.
import { copyFile, mkdir } from "node:fs/promises";
import * as esbuild from "esbuild";

const outdir = "../infoflow_widget/static";
const copyStyle = {
  name: "copy-style",
  setup(build) {
    build.onEnd(async () => {
      await mkdir(outdir, { recursive: true });
      await copyFile("src/style.json", `${outdir}/style.json`);
    });
  },
};

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: { widget: "src/widget.js" },
  bundle: true,
  format: "esm",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  target: ["es2020"],
  outdir,
  // UMD wrappers in dependencies would see an AMD loader in VS Code and never define the module.
  define: { "define.amd": "false" },
  logLevel: "info",
  plugins: [copyStyle],
};

if (watch) {
  await (await esbuild.context(options)).watch();
} else {
  await esbuild.build(options);
}
