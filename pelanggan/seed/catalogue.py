"""Phases 2 and 3: a catalogue of a few hundred stationery products (orders) and their weights (incentives)."""

from __future__ import annotations

from datetime import date

from pelanggan.seed.randomness import rng, rupiah

# category -> (sku prefix, base names, price range in IDR)
CATEGORIES: dict[str, tuple[str, tuple[str, ...], tuple[int, int]]] = {
    "paper": ("PAP", (
        "Kertas HVS A4 70gsm", "Kertas HVS A4 80gsm", "Kertas F4 70gsm", "Kertas A3 80gsm", "Kertas Foto Glossy",
        "Kertas Karton", "Kertas Buffalo", "Kertas Continuous Form", "Kertas Art Paper 150gsm", "Kertas NCR",
    ), (15_000, 350_000)),
    "writing": ("WRT", (
        "Pulpen Gel", "Pulpen Ballpoint", "Pensil 2B", "Spidol Whiteboard", "Stabilo Highlighter", "Penghapus",
        "Tip-Ex Correction Pen", "Marker Permanen", "Pensil Mekanik", "Tinta Refill",
    ), (2_000, 90_000)),
    "office_equipment": ("OFF", (
        "Stapler", "Pembolong Kertas", "Kalkulator", "Laminator", "Mesin Penghancur Kertas", "Binder Clip Set",
        "Ordner", "Papan Whiteboard", "Gunting Kantor", "Dispenser Selotip",
    ), (15_000, 3_500_000)),
    "printing_consumables": ("PRN", (
        "Toner Laser", "Tinta Printer Botol", "Cartridge Inkjet", "Drum Unit", "Pita Printer", "Tinta Offset",
        "Plat Cetak", "Tinta Sablon", "Roll Laminating Film", "Ribbon Barcode",
    ), (40_000, 2_800_000)),
    "packaging": ("PKG", (
        "Kardus Corrugated", "Lakban Coklat", "Bubble Wrap Roll", "Amplop Coklat", "Plastik Stretch Film",
        "Kantong Kertas", "Label Pengiriman", "Box Mailer", "Kertas Kraft", "Tali Rafia",
    ), (5_000, 450_000)),
    "school_supplies": ("SCH", (
        "Buku Tulis 38 Lembar", "Buku Gambar A4", "Krayon 24 Warna", "Pensil Warna", "Penggaris 30cm", "Tas Sekolah",
        "Kotak Pensil", "Jangka", "Lem Kertas", "Sampul Buku",
    ), (3_000, 250_000)),
}
VARIANTS = ("Standar", "Premium", "Eco", "Pak 10", "Pak 50")
# The locomotive products: the brief's "key products" that weigh most in the staff's contribution.
LOCOMOTIVES = ("PAP-002-1", "PRN-001-2", "PKG-001-1", "OFF-005-2", "SCH-001-1", "WRT-004-1")
LOCOMOTIVE_WEIGHT = "3.0"


def products(seed: int) -> list[dict]:
    r = rng(seed, "catalogue")
    items: list[dict] = []
    for category, (prefix, names, (low, high)) in CATEGORIES.items():
        for n, base in enumerate(names, start=1):
            base_price = r.uniform(low, high)
            for v, variant in enumerate(VARIANTS, start=1):
                price = rupiah(base_price * (1 + 0.35 * (v - 1)), step=500)
                cost = rupiah(float(price) * r.uniform(0.55, 0.82))  # cost below price: a margin on every product
                items.append({"sku": f"{prefix}-{n:03d}-{v}", "name": f"{base} {variant}", "category": category,
                              "unit_price": str(price), "unit_cost": str(cost)})
    return items


def weights(seed: int, catalogue: list[dict], effective_from: date) -> list[dict]:
    """Locomotives weigh 3; consumables that keep customers coming back 1.5; the rest stay neutral (1)."""
    r = rng(seed, "weights")
    chosen: list[dict] = []
    for product in catalogue:
        if product["sku"] in LOCOMOTIVES:
            weight, locomotive = LOCOMOTIVE_WEIGHT, True
        elif product["category"] in ("printing_consumables", "paper") and r.random() < 0.3:
            weight, locomotive = "1.5", False
        else:
            continue
        chosen.append({"sku": product["sku"], "weight": weight, "locomotive": locomotive,
                       "effective_from": effective_from.isoformat()})
    return chosen
