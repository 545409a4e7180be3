// The live view: the head as a wire box with eyes and antennas, placed by
// the 4x4 head pose of the state stream and drawn from the front, the side
// and above (orthographic, millimetres), with the body's yaw from above.

const NS = "http://www.w3.org/2000/svg";

// eulerXYZ turns a row-major 4x4 pose into x, y, z (m) and roll, pitch,
// yaw (rad) with R = Rz(yaw) Ry(pitch) Rx(roll), the reference's
// convention (scipy's from_euler("xyz")).
export function eulerXYZ(m) {
  const r = (i, j) => m[i * 4 + j];
  const pitch = Math.asin(Math.max(-1, Math.min(1, -r(2, 0))));
  return {
    x: r(0, 3), y: r(1, 3), z: r(2, 3),
    roll: Math.atan2(r(2, 1), r(2, 2)), pitch, yaw: Math.atan2(r(1, 0), r(0, 0)),
  };
}

// The head in its own frame (mm): x forward, y left, z up.
const box = [];
for (const x of [-40, 40]) for (const y of [-60, 60]) for (const z of [-30, 45]) box.push([x, y, z]);
const edges = [[0, 1], [2, 3], [4, 5], [6, 7], [0, 2], [1, 3], [4, 6], [5, 7], [0, 4], [1, 5], [2, 6], [3, 7]];
const eyes = [[41, -22, 10], [41, 22, 10]];
const antBase = [[0, -30, 45], [0, 30, 45]]; // right, left

// Views map world millimetres to screen: front (looking at the face),
// side (from the robot's right), top (from above, forward up).
const views = {
  front: (p) => [p[1], -p[2]],
  side: (p) => [p[0], -p[2]],
  top: (p) => [-p[1], -p[0]],
};

function node(parent, tag, cls) {
  const e = document.createElementNS(NS, tag);
  if (cls) e.setAttribute("class", cls);
  parent.append(e);
  return e;
}

export class HeadView {
  constructor(svgs) {
    this.parts = {};
    for (const [name, svg] of Object.entries(svgs)) {
      const p = {};
      if (name === "top") {
        p.body = node(svg, "circle", "body");
        p.body.setAttribute("r", "70");
        p.bodyDir = node(svg, "line", "dir bodyyaw");
      } else {
        p.body = node(svg, "path", "body");
        p.body.setAttribute("d", "M -80 68 L 80 68 L 62 38 L -62 38 Z");
      }
      p.head = node(svg, "path", "head");
      p.eyes = eyes.map(() => { const c = node(svg, "circle", "eye"); c.setAttribute("r", "6"); return c; });
      p.ants = antBase.map(() => node(svg, "line", "ant"));
      if (name === "top") p.dir = node(svg, "line", "dir");
      this.parts[name] = p;
    }
  }

  // draw places the head: m is the row-major 4x4 pose (translation in m),
  // antennas [right, left] and bodyYaw in radians.
  draw(m, antennas, bodyYaw) {
    const world = (p) => [
      m[0] * p[0] + m[1] * p[1] + m[2] * p[2] + m[3] * 1000,
      m[4] * p[0] + m[5] * p[1] + m[6] * p[2] + m[7] * 1000,
      m[8] * p[0] + m[9] * p[1] + m[10] * p[2] + m[11] * 1000,
    ];
    const corners = box.map(world);
    const eyeW = eyes.map(world);
    // Antennas swing sideways about the head's x axis, 70 mm long.
    const tips = antBase.map((b, i) => {
      const a = antennas ? antennas[i] : 0;
      const side = i === 0 ? -1 : 1;
      return [world(b), world([b[0], b[1] + side * 70 * Math.sin(a), b[2] + 70 * Math.cos(a)])];
    });
    for (const [name, proj] of Object.entries(views)) {
      const p = this.parts[name];
      const c = corners.map(proj);
      p.head.setAttribute("d", edges.map(([a, b]) => `M ${c[a][0].toFixed(1)} ${c[a][1].toFixed(1)} L ${c[b][0].toFixed(1)} ${c[b][1].toFixed(1)}`).join(" "));
      eyeW.forEach((e, i) => {
        const [x, y] = proj(e);
        p.eyes[i].setAttribute("cx", x.toFixed(1));
        p.eyes[i].setAttribute("cy", y.toFixed(1));
      });
      tips.forEach(([b, t], i) => {
        const [x1, y1] = proj(b), [x2, y2] = proj(t);
        setLine(p.ants[i], x1, y1, x2, y2);
      });
      if (name === "top") {
        const by = bodyYaw || 0;
        setLine(p.bodyDir, 0, 0, -Math.sin(by) * 90, -Math.cos(by) * 90);
        const f = proj(world([90, 0, 0])), o = proj(world([0, 0, 0]));
        setLine(p.dir, o[0], o[1], f[0], f[1]);
      }
    }
  }
}

function setLine(l, x1, y1, x2, y2) {
  l.setAttribute("x1", x1.toFixed(1));
  l.setAttribute("y1", y1.toFixed(1));
  l.setAttribute("x2", x2.toFixed(1));
  l.setAttribute("y2", y2.toFixed(1));
}
