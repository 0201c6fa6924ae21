// A front-end team's first call sequence, typed by the clients generated from the services' OpenAPI
// documents (openapi-typescript + openapi-fetch). It must compile with `tsc --noEmit`: a renamed field,
// a changed type or a removed route in a service breaks this file, not the team's production build.
import createClient from "openapi-fetch";
import type { paths as CustomerPaths } from "./generated/customers";
import type { paths as OrderPaths } from "./generated/orders";

export interface Session {
  gateway: string; // e.g. http://127.0.0.1:8080
  token: string;
}

export async function registerAndOrder(session: Session, productId: string): Promise<string> {
  const headers = { Authorization: `Bearer ${session.token}` };
  const customers = createClient<CustomerPaths>({ baseUrl: `${session.gateway}/customers`, headers });
  const orders = createClient<OrderPaths>({ baseUrl: `${session.gateway}/orders`, headers });

  const registered = await customers.POST("/customers", {
    body: { kind: "company", name: "PT Kertas Jaya", emails: ["pembelian@kertasjaya.example"], segment: "wholesale" },
  });
  if (registered.error) {
    // Problems are RFC 9457 bodies: status and title are always there.
    throw new Error(`${registered.error.status} ${registered.error.title}`);
  }
  const customerId: string = registered.data.id;

  const placed = await orders.POST("/orders", {
    body: { customer_id: customerId, channel: "store", sales_employee_id: "emp-7",
            lines: [{ product_id: productId, quantity: 12 }] },
    headers: { "Idempotency-Key": `first-order-${customerId}` },
  });
  if (placed.error) {
    throw new Error(`${placed.error.status} ${placed.error.title}`);
  }
  // Money is a decimal string, never a number.
  const net: string = placed.data.net;
  return net;
}
